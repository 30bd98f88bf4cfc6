# LTE on the move: capacity from the lab's drive traces (traces/make_lte_trace.py:
# 5.2 Mbit/s down and 0.8 up on average over 60 s, with dead zones of 2 and
# 3.5 s), 20 ms each way plus up to 3 ms of jitter, and the deep buffers of a
# cellular network: 250 kB per direction.
both delay=20ms jitter=3ms queue=250kB
down trace=../traces/lte-down.trace
up trace=../traces/lte-up.trace
