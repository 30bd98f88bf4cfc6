# The same Wi-Fi as someone walks away from the access point, carrier still up:
# 30% of frames lost each way and the rate down to 2 Mbit/s (the radio falls
# back to its slowest modulation). Loaded over wifi-good at the fade's start.
both rate=2mbit delay=4ms jitter=2ms queue=150kB loss=30%
