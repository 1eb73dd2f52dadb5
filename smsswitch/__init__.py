"""smsswitch: an SMPP-native, carrier-grade SMS message switch on Trio."""

__version__ = "0.1.0"
