"""Cache QoS (LLC occupancy, memory bandwidth): its status codes, resctrl, and each source's part.

:mod:`.status` is the data the UI and the JSON read; :mod:`.resctrl` reads and writes Linux resctrl;
:mod:`.libvirt` and :mod:`.xen` are the Cache QoS halves of the libvirt and Xen sources.
"""
