"""xentui: a live terminal view of every virtual machine on a Xen or KVM host."""

__version__ = "0.1.0"
