# A busy café Wi-Fi: the same 20 Mbit/s each way, 4 ms each way plus up to
# 2 ms of jitter as wifi-good, but an access point (or the home router behind
# it) with a deep buffer: 1 MB per direction, 400 ms of queue at full rate,
# which one bulk transfer fills by itself.
both rate=20mbit delay=4ms jitter=2ms queue=1MB
