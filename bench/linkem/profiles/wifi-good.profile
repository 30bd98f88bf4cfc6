# A good Wi-Fi: 20 Mbit/s each way, 4 ms each way plus up to 2 ms of jitter
# (contention, retries), an access point that holds 150 kB per direction.
both rate=20mbit delay=4ms jitter=2ms queue=150kB
