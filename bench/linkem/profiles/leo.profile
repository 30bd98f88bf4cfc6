# LEO satellite (a Starlink-like dish): about 40 ms round trip, 100 Mbit/s
# down and 15 up, and a short outage at every 15 s satellite reassignment
# (150 ms with nothing through), 500 kB buffers.
both delay=20ms jitter=5ms queue=500kB outage=150ms/15s
down rate=100mbit
up rate=15mbit
