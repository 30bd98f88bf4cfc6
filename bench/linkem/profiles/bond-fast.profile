# bench/bond's fast unlike link (a fixed line): 20 Mbit/s each way, 8 ms round trip (4 ms each way), a 250 kB droptail buffer (100 ms at the rate).
both rate=20mbit delay=4ms queue=250kB
