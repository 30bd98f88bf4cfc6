# One of bench/bond's two alike links: 20 Mbit/s each way, 20 ms round trip (10 ms each way), a 250 kB droptail buffer (100 ms at the rate).
both rate=20mbit delay=10ms queue=250kB
