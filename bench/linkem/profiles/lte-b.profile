# A second LTE drive (another carrier's modem beside lte.profile): lte.profile's delay, jitter and buffers on traces from another seed (traces/make_lte_trace.py --seed 20261205 --name lte-b).
both delay=20ms jitter=3ms queue=250kB
down trace=../traces/lte-b-down.trace
up trace=../traces/lte-b-up.trace
