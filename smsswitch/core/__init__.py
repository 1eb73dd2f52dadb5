"""The switch core: accept → journal → route → connector → carrier ack → receipt → tenant.

    from smsswitch.core import Switch
"""

from smsswitch.core.switch import Switch

__all__ = ["Switch"]
