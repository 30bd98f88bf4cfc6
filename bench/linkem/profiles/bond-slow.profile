# bench/bond's slow unlike link (a cellular one): 8 Mbit/s each way, 40 ms round trip (20 ms each way), a 100 kB droptail buffer (100 ms at the rate).
both rate=8mbit delay=20ms queue=100kB
