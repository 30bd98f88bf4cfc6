# No limit, no delay, no loss: the veth lab as it was, through the emulator
# (what the emulator itself costs).
both rate=0 queue=1MB
