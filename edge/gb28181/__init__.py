"""GB/T 28181 device side: the box registers with a police video platform as an NVR, answers its
MANSCDP queries and streams live and recorded video as MPEG-PS over RTP."""
