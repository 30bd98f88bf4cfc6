# 5G (sub-6 GHz, a good cell): 150 Mbit/s down, 40 up, 8 ms each way plus up
# to 2 ms of jitter, 500 kB buffers.
both delay=8ms jitter=2ms queue=500kB
down rate=150mbit
up rate=40mbit
