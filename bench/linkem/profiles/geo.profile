# GEO satellite: about 600 ms round trip (300 ms each way), 20 Mbit/s down and
# 5 up, 1 MB buffers, a little random loss.
both delay=300ms jitter=5ms queue=1MB loss=0.1%
down rate=20mbit
up rate=5mbit
