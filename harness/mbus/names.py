"""Human-readable names for header and link-layer codes (EN 13757-2 C field, EN 13757-3 CI and medium)."""

from __future__ import annotations

#: EN 13757-3 table 'Medium' (device type)
MEDIUM_NAMES: dict[int, str] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat (outlet)",
    0x05: "steam",
    0x06: "warm water (30-90 degC)",
    0x07: "water",
    0x08: "heat cost allocator",
    0x09: "compressed air",
    0x0A: "cooling load meter (outlet)",
    0x0B: "cooling load meter (inlet)",
    0x0C: "heat (inlet)",
    0x0D: "heat/cooling load meter",
    0x0E: "bus/system component",
    0x0F: "unknown medium",
    0x15: "hot water (>= 90 degC)",
    0x16: "cold water",
    0x17: "dual register (hot/cold) water",
    0x18: "pressure",
    0x19: "A/D converter",
    0x1A: "smoke detector",
    0x1B: "room sensor",
    0x1C: "gas detector",
    0x20: "breaker (electricity)",
    0x21: "valve (gas or water)",
    0x25: "customer unit (display)",
    0x28: "waste water",
    0x29: "garbage",
    0x2A: "carbon dioxide",
    0x31: "communication controller",
    0x32: "unidirectional repeater",
    0x33: "bidirectional repeater",
    0x36: "radio converter (system side)",
    0x37: "radio converter (meter side)",
}

#: EN 13757-2 C field names (FCB/FCV, ACD/DFC variants folded in)
C_FIELD_NAMES: dict[int, str] = {
    0x40: "SND_NKE",
    0x53: "SND_UD",
    0x73: "SND_UD (FCB)",
    0x5A: "REQ_UD1",
    0x7A: "REQ_UD1 (FCB)",
    0x5B: "REQ_UD2",
    0x7B: "REQ_UD2 (FCB)",
    0x08: "RSP_UD",
    0x18: "RSP_UD (DFC)",
    0x28: "RSP_UD (ACD)",
    0x38: "RSP_UD (ACD, DFC)",
}

#: EN 13757-3 CI field names
CI_NAMES: dict[int, str] = {
    0x50: "application reset",
    0x51: "data send",
    0x52: "select slave",
    0x54: "request selected application",
    0x56: "select slave (mode 2)",
    0x70: "application error",
    0x71: "alarm status",
    0x72: "variable data, long header",
    0x73: "fixed data",
    0x76: "variable data, mode 2",
    0x78: "variable data, no header",
    0x7A: "variable data, short header",
    **{
        ci: f"set baud rate {baud}"
        for ci, baud in (
            (0xB8, 300),
            (0xB9, 600),
            (0xBA, 1200),
            (0xBB, 2400),
            (0xBC, 4800),
            (0xBD, 9600),
            (0xBE, 19200),
            (0xBF, 38400),
        )
    },
}


def medium_name(code: int) -> str:
    return MEDIUM_NAMES.get(code, "reserved")


def c_field_name(c: int) -> str:
    return C_FIELD_NAMES.get(c, "unknown")


def ci_name(ci: int) -> str:
    return CI_NAMES.get(ci, "unknown")
