#!/usr/bin/env python3
"""Regenerate checks/data/tls-ciphers.csv, the cipher-suite registry of the TLS enumeration.

Source: the IANA "TLS Cipher Suites" registry
(https://www.iana.org/assignments/tls-parameters/tls-parameters.xhtml#tls-parameters-4),
transcribed below as (code, IANA name) pairs, plus a few pre-standard suites that real servers
still answer with (source `legacy`: the EXPORT1024 suites and the draft ChaCha20 codes) and the
SSL 2.0 cipher kinds (RFC-less, from the SSL 2.0 draft: 3-byte codes). Key exchange,
authentication, encryption, key bits and MAC are derived from the name by the rules in
`classify`; the OpenSSL name comes from the local `openssl ciphers -V -stdname` when it knows
the suite. Review the diff, then commit. No network access needed.

    python3 checks/data/refresh-tls-ciphers.py > checks/data/tls-ciphers.csv
"""
import re
import subprocess
import sys

IANA = """
0000 TLS_NULL_WITH_NULL_NULL
0001 TLS_RSA_WITH_NULL_MD5
0002 TLS_RSA_WITH_NULL_SHA
0003 TLS_RSA_EXPORT_WITH_RC4_40_MD5
0004 TLS_RSA_WITH_RC4_128_MD5
0005 TLS_RSA_WITH_RC4_128_SHA
0006 TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5
0007 TLS_RSA_WITH_IDEA_CBC_SHA
0008 TLS_RSA_EXPORT_WITH_DES40_CBC_SHA
0009 TLS_RSA_WITH_DES_CBC_SHA
000A TLS_RSA_WITH_3DES_EDE_CBC_SHA
000B TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA
000C TLS_DH_DSS_WITH_DES_CBC_SHA
000D TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA
000E TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA
000F TLS_DH_RSA_WITH_DES_CBC_SHA
0010 TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA
0011 TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA
0012 TLS_DHE_DSS_WITH_DES_CBC_SHA
0013 TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA
0014 TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA
0015 TLS_DHE_RSA_WITH_DES_CBC_SHA
0016 TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA
0017 TLS_DH_anon_EXPORT_WITH_RC4_40_MD5
0018 TLS_DH_anon_WITH_RC4_128_MD5
0019 TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA
001A TLS_DH_anon_WITH_DES_CBC_SHA
001B TLS_DH_anon_WITH_3DES_EDE_CBC_SHA
001E TLS_KRB5_WITH_DES_CBC_SHA
001F TLS_KRB5_WITH_3DES_EDE_CBC_SHA
0020 TLS_KRB5_WITH_RC4_128_SHA
0021 TLS_KRB5_WITH_IDEA_CBC_SHA
0022 TLS_KRB5_WITH_DES_CBC_MD5
0023 TLS_KRB5_WITH_3DES_EDE_CBC_MD5
0024 TLS_KRB5_WITH_RC4_128_MD5
0025 TLS_KRB5_WITH_IDEA_CBC_MD5
0026 TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA
0027 TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA
0028 TLS_KRB5_EXPORT_WITH_RC4_40_SHA
0029 TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5
002A TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5
002B TLS_KRB5_EXPORT_WITH_RC4_40_MD5
002C TLS_PSK_WITH_NULL_SHA
002D TLS_DHE_PSK_WITH_NULL_SHA
002E TLS_RSA_PSK_WITH_NULL_SHA
002F TLS_RSA_WITH_AES_128_CBC_SHA
0030 TLS_DH_DSS_WITH_AES_128_CBC_SHA
0031 TLS_DH_RSA_WITH_AES_128_CBC_SHA
0032 TLS_DHE_DSS_WITH_AES_128_CBC_SHA
0033 TLS_DHE_RSA_WITH_AES_128_CBC_SHA
0034 TLS_DH_anon_WITH_AES_128_CBC_SHA
0035 TLS_RSA_WITH_AES_256_CBC_SHA
0036 TLS_DH_DSS_WITH_AES_256_CBC_SHA
0037 TLS_DH_RSA_WITH_AES_256_CBC_SHA
0038 TLS_DHE_DSS_WITH_AES_256_CBC_SHA
0039 TLS_DHE_RSA_WITH_AES_256_CBC_SHA
003A TLS_DH_anon_WITH_AES_256_CBC_SHA
003B TLS_RSA_WITH_NULL_SHA256
003C TLS_RSA_WITH_AES_128_CBC_SHA256
003D TLS_RSA_WITH_AES_256_CBC_SHA256
003E TLS_DH_DSS_WITH_AES_128_CBC_SHA256
003F TLS_DH_RSA_WITH_AES_128_CBC_SHA256
0040 TLS_DHE_DSS_WITH_AES_128_CBC_SHA256
0041 TLS_RSA_WITH_CAMELLIA_128_CBC_SHA
0042 TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA
0043 TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA
0044 TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA
0045 TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA
0046 TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA
0067 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
0068 TLS_DH_DSS_WITH_AES_256_CBC_SHA256
0069 TLS_DH_RSA_WITH_AES_256_CBC_SHA256
006A TLS_DHE_DSS_WITH_AES_256_CBC_SHA256
006B TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
006C TLS_DH_anon_WITH_AES_128_CBC_SHA256
006D TLS_DH_anon_WITH_AES_256_CBC_SHA256
0084 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA
0085 TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA
0086 TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA
0087 TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA
0088 TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA
0089 TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA
008A TLS_PSK_WITH_RC4_128_SHA
008B TLS_PSK_WITH_3DES_EDE_CBC_SHA
008C TLS_PSK_WITH_AES_128_CBC_SHA
008D TLS_PSK_WITH_AES_256_CBC_SHA
008E TLS_DHE_PSK_WITH_RC4_128_SHA
008F TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA
0090 TLS_DHE_PSK_WITH_AES_128_CBC_SHA
0091 TLS_DHE_PSK_WITH_AES_256_CBC_SHA
0092 TLS_RSA_PSK_WITH_RC4_128_SHA
0093 TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA
0094 TLS_RSA_PSK_WITH_AES_128_CBC_SHA
0095 TLS_RSA_PSK_WITH_AES_256_CBC_SHA
0096 TLS_RSA_WITH_SEED_CBC_SHA
0097 TLS_DH_DSS_WITH_SEED_CBC_SHA
0098 TLS_DH_RSA_WITH_SEED_CBC_SHA
0099 TLS_DHE_DSS_WITH_SEED_CBC_SHA
009A TLS_DHE_RSA_WITH_SEED_CBC_SHA
009B TLS_DH_anon_WITH_SEED_CBC_SHA
009C TLS_RSA_WITH_AES_128_GCM_SHA256
009D TLS_RSA_WITH_AES_256_GCM_SHA384
009E TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
009F TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
00A0 TLS_DH_RSA_WITH_AES_128_GCM_SHA256
00A1 TLS_DH_RSA_WITH_AES_256_GCM_SHA384
00A2 TLS_DHE_DSS_WITH_AES_128_GCM_SHA256
00A3 TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
00A4 TLS_DH_DSS_WITH_AES_128_GCM_SHA256
00A5 TLS_DH_DSS_WITH_AES_256_GCM_SHA384
00A6 TLS_DH_anon_WITH_AES_128_GCM_SHA256
00A7 TLS_DH_anon_WITH_AES_256_GCM_SHA384
00A8 TLS_PSK_WITH_AES_128_GCM_SHA256
00A9 TLS_PSK_WITH_AES_256_GCM_SHA384
00AA TLS_DHE_PSK_WITH_AES_128_GCM_SHA256
00AB TLS_DHE_PSK_WITH_AES_256_GCM_SHA384
00AC TLS_RSA_PSK_WITH_AES_128_GCM_SHA256
00AD TLS_RSA_PSK_WITH_AES_256_GCM_SHA384
00AE TLS_PSK_WITH_AES_128_CBC_SHA256
00AF TLS_PSK_WITH_AES_256_CBC_SHA384
00B0 TLS_PSK_WITH_NULL_SHA256
00B1 TLS_PSK_WITH_NULL_SHA384
00B2 TLS_DHE_PSK_WITH_AES_128_CBC_SHA256
00B3 TLS_DHE_PSK_WITH_AES_256_CBC_SHA384
00B4 TLS_DHE_PSK_WITH_NULL_SHA256
00B5 TLS_DHE_PSK_WITH_NULL_SHA384
00B6 TLS_RSA_PSK_WITH_AES_128_CBC_SHA256
00B7 TLS_RSA_PSK_WITH_AES_256_CBC_SHA384
00B8 TLS_RSA_PSK_WITH_NULL_SHA256
00B9 TLS_RSA_PSK_WITH_NULL_SHA384
00BA TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256
00BB TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256
00BC TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256
00BD TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256
00BE TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256
00BF TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256
00C0 TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256
00C1 TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256
00C2 TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256
00C3 TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256
00C4 TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256
00C5 TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256
00C6 TLS_SM4_GCM_SM3
00C7 TLS_SM4_CCM_SM3
00FF TLS_EMPTY_RENEGOTIATION_INFO_SCSV
1301 TLS_AES_128_GCM_SHA256
1302 TLS_AES_256_GCM_SHA384
1303 TLS_CHACHA20_POLY1305_SHA256
1304 TLS_AES_128_CCM_SHA256
1305 TLS_AES_128_CCM_8_SHA256
1306 TLS_AEGIS_256_SHA512
1307 TLS_AEGIS_128L_SHA256
5600 TLS_FALLBACK_SCSV
C001 TLS_ECDH_ECDSA_WITH_NULL_SHA
C002 TLS_ECDH_ECDSA_WITH_RC4_128_SHA
C003 TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA
C004 TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA
C005 TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA
C006 TLS_ECDHE_ECDSA_WITH_NULL_SHA
C007 TLS_ECDHE_ECDSA_WITH_RC4_128_SHA
C008 TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA
C009 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
C00A TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
C00B TLS_ECDH_RSA_WITH_NULL_SHA
C00C TLS_ECDH_RSA_WITH_RC4_128_SHA
C00D TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA
C00E TLS_ECDH_RSA_WITH_AES_128_CBC_SHA
C00F TLS_ECDH_RSA_WITH_AES_256_CBC_SHA
C010 TLS_ECDHE_RSA_WITH_NULL_SHA
C011 TLS_ECDHE_RSA_WITH_RC4_128_SHA
C012 TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
C013 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
C014 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
C015 TLS_ECDH_anon_WITH_NULL_SHA
C016 TLS_ECDH_anon_WITH_RC4_128_SHA
C017 TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA
C018 TLS_ECDH_anon_WITH_AES_128_CBC_SHA
C019 TLS_ECDH_anon_WITH_AES_256_CBC_SHA
C01A TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA
C01B TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA
C01C TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA
C01D TLS_SRP_SHA_WITH_AES_128_CBC_SHA
C01E TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA
C01F TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA
C020 TLS_SRP_SHA_WITH_AES_256_CBC_SHA
C021 TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA
C022 TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA
C023 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
C024 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
C025 TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256
C026 TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384
C027 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
C028 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
C029 TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256
C02A TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384
C02B TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
C02C TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
C02D TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256
C02E TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384
C02F TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
C030 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
C031 TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256
C032 TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384
C033 TLS_ECDHE_PSK_WITH_RC4_128_SHA
C034 TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA
C035 TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA
C036 TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA
C037 TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256
C038 TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384
C039 TLS_ECDHE_PSK_WITH_NULL_SHA
C03A TLS_ECDHE_PSK_WITH_NULL_SHA256
C03B TLS_ECDHE_PSK_WITH_NULL_SHA384
"""

# ARIA, Camellia (C0xx), CCM, ECCPWD, GOST and ECDHE_PSK AEAD: regular enough to generate.
def more():
    out = []
    aria = [
        ("RSA", "CBC"), ("DH_DSS", "CBC"), ("DH_RSA", "CBC"), ("DHE_DSS", "CBC"),
        ("DHE_RSA", "CBC"), ("DH_anon", "CBC"), ("ECDHE_ECDSA", "CBC"), ("ECDH_ECDSA", "CBC"),
        ("ECDHE_RSA", "CBC"), ("ECDH_RSA", "CBC"), ("RSA", "GCM"), ("DHE_RSA", "GCM"),
        ("DH_RSA", "GCM"), ("DHE_DSS", "GCM"), ("DH_DSS", "GCM"), ("DH_anon", "GCM"),
        ("ECDHE_ECDSA", "GCM"), ("ECDH_ECDSA", "GCM"), ("ECDHE_RSA", "GCM"), ("ECDH_RSA", "GCM"),
        ("PSK", "CBC"), ("DHE_PSK", "CBC"), ("RSA_PSK", "CBC"), ("PSK", "GCM"),
        ("DHE_PSK", "GCM"), ("RSA_PSK", "GCM"), ("ECDHE_PSK", "CBC"),
    ]
    code = 0xC03C
    for kx, mode in aria:
        for bits, mac in ((128, "SHA256"), (256, "SHA384")):
            out.append((code, f"TLS_{kx}_WITH_ARIA_{bits}_{mode}_{mac}"))
            code += 1
    camellia = [
        ("ECDHE_ECDSA", "CBC"), ("ECDH_ECDSA", "CBC"), ("ECDHE_RSA", "CBC"), ("ECDH_RSA", "CBC"),
        ("RSA", "GCM"), ("DHE_RSA", "GCM"), ("DH_RSA", "GCM"), ("DHE_DSS", "GCM"),
        ("DH_DSS", "GCM"), ("DH_anon", "GCM"), ("ECDHE_ECDSA", "GCM"), ("ECDH_ECDSA", "GCM"),
        ("ECDHE_RSA", "GCM"), ("ECDH_RSA", "GCM"), ("PSK", "GCM"), ("DHE_PSK", "GCM"),
        ("RSA_PSK", "GCM"), ("PSK", "CBC"), ("DHE_PSK", "CBC"), ("RSA_PSK", "CBC"),
        ("ECDHE_PSK", "CBC"),
    ]
    assert code == 0xC072, hex(code)
    for kx, mode in camellia:
        for bits, mac in ((128, "SHA256"), (256, "SHA384")):
            out.append((code, f"TLS_{kx}_WITH_CAMELLIA_{bits}_{mode}_{mac}"))
            code += 1
    assert code == 0xC09C, hex(code)
    for kx in ("RSA", "DHE_RSA"):
        for bits in (128, 256):
            out.append((code, f"TLS_{kx}_WITH_AES_{bits}_CCM")); code += 1
    for kx in ("RSA", "DHE_RSA"):
        for bits in (128, 256):
            out.append((code, f"TLS_{kx}_WITH_AES_{bits}_CCM_8")); code += 1
    for kx in ("PSK", "DHE_PSK"):
        for bits in (128, 256):
            out.append((code, f"TLS_{kx}_WITH_AES_{bits}_CCM")); code += 1
    for kx in ("PSK", "PSK_DHE"):
        for bits in (128, 256):
            out.append((code, f"TLS_{kx}_WITH_AES_{bits}_CCM_8")); code += 1
    for suffix in ("CCM", "CCM_8"):
        for bits in (128, 256):
            out.append((code, f"TLS_ECDHE_ECDSA_WITH_AES_{bits}_{suffix}")); code += 1
    assert code == 0xC0B0, hex(code)
    out += [
        (0xC0B0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256"),
        (0xC0B1, "TLS_ECCPWD_WITH_AES_256_GCM_SHA384"),
        (0xC0B2, "TLS_ECCPWD_WITH_AES_128_CCM_SHA256"),
        (0xC0B3, "TLS_ECCPWD_WITH_AES_256_CCM_SHA384"),
        (0xC0B4, "TLS_SHA256_SHA256"),
        (0xC0B5, "TLS_SHA384_SHA384"),
        (0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC"),
        (0xC101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC"),
        (0xC102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT"),
        (0xC103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L"),
        (0xC104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L"),
        (0xC105, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S"),
        (0xC106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S"),
        (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
        (0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256"),
        (0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"),
        (0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384"),
        (0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256"),
        (0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"),
    ]
    return out

# Not in the IANA registry, yet seen on old servers.
LEGACY = [
    (0x0062, "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA"),
    (0x0063, "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA"),
    (0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA"),
    (0x0065, "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA"),
    (0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA"),
    (0xCC13, "OLD_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCC14, "OLD_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xCC15, "OLD_TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
]

# SSL 2.0 cipher kinds (3 bytes).
SSL2 = [
    (0x010080, "SSL_CK_RC4_128_WITH_MD5", "RC4-MD5", "RSA", "RSA", "RC4_128", "stream", 128, "MD5", False),
    (0x020080, "SSL_CK_RC4_128_EXPORT40_WITH_MD5", "EXP-RC4-MD5", "RSA", "RSA", "RC4_40", "stream", 40, "MD5", True),
    (0x030080, "SSL_CK_RC2_128_CBC_WITH_MD5", "RC2-CBC-MD5", "RSA", "RSA", "RC2_CBC_128", "cbc", 128, "MD5", False),
    (0x040080, "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5", "EXP-RC2-CBC-MD5", "RSA", "RSA", "RC2_CBC_40", "cbc", 40, "MD5", True),
    (0x050080, "SSL_CK_IDEA_128_CBC_WITH_MD5", "IDEA-CBC-MD5", "RSA", "RSA", "IDEA_CBC", "cbc", 128, "MD5", False),
    (0x060040, "SSL_CK_DES_64_CBC_WITH_MD5", "DES-CBC-MD5", "RSA", "RSA", "DES_CBC", "cbc", 56, "MD5", False),
    (0x0700C0, "SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "DES-CBC3-MD5", "RSA", "RSA", "3DES_EDE_CBC", "cbc", 112, "MD5", False),
]

KXAU = {
    "NULL": ("NULL", "NULL"), "RSA": ("RSA", "RSA"), "RSA_EXPORT": ("RSA", "RSA"),
    "RSA_EXPORT1024": ("RSA", "RSA"), "DH_DSS": ("DH", "DSS"), "DH_DSS_EXPORT": ("DH", "DSS"),
    "DH_RSA": ("DH", "RSA"), "DH_RSA_EXPORT": ("DH", "RSA"), "DHE_DSS": ("DHE", "DSS"),
    "DHE_DSS_EXPORT": ("DHE", "DSS"), "DHE_DSS_EXPORT1024": ("DHE", "DSS"),
    "DHE_RSA": ("DHE", "RSA"), "DHE_RSA_EXPORT": ("DHE", "RSA"), "DH_anon": ("DH", "anon"),
    "DH_anon_EXPORT": ("DH", "anon"), "KRB5": ("KRB5", "KRB5"), "KRB5_EXPORT": ("KRB5", "KRB5"),
    "PSK": ("PSK", "PSK"), "DHE_PSK": ("DHE", "PSK"), "PSK_DHE": ("DHE", "PSK"),
    "RSA_PSK": ("RSA", "PSK"), "ECDHE_PSK": ("ECDHE", "PSK"), "ECDH_ECDSA": ("ECDH", "ECDSA"),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA"), "ECDH_RSA": ("ECDH", "RSA"), "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDH_anon": ("ECDH", "anon"), "SRP_SHA": ("SRP", "SRP"), "SRP_SHA_RSA": ("SRP", "RSA"),
    "SRP_SHA_DSS": ("SRP", "DSS"), "ECCPWD": ("ECCPWD", "ECCPWD"),
    "GOSTR341112_256": ("GOST", "GOST"),
}

# encryption name -> (mode, key bits)
ENC = {
    "NULL": ("none", 0), "RC4_40": ("stream", 40), "RC4_56": ("stream", 56),
    "RC4_128": ("stream", 128), "RC2_CBC_40": ("cbc", 40), "IDEA_CBC": ("cbc", 128),
    "DES40_CBC": ("cbc", 40), "DES_CBC_40": ("cbc", 40), "DES_CBC": ("cbc", 56),
    "3DES_EDE_CBC": ("cbc", 112), "SEED_CBC": ("cbc", 128), "CHACHA20_POLY1305": ("aead", 256),
    "SM4_GCM": ("aead", 128), "SM4_CCM": ("aead", 128), "AEGIS_256": ("aead", 256),
    "AEGIS_128L": ("aead", 128), "KUZNYECHIK_CTR": ("ctr", 256), "MAGMA_CTR": ("ctr", 256),
    "28147_CNT": ("ctr", 256), "KUZNYECHIK_MGM": ("aead", 256), "MAGMA_MGM": ("aead", 256),
}
for cipher in ("AES", "CAMELLIA", "ARIA"):
    for bits in (128, 256):
        ENC[f"{cipher}_{bits}_CBC"] = ("cbc", bits)
        ENC[f"{cipher}_{bits}_GCM"] = ("aead", bits)
        ENC[f"{cipher}_{bits}_CCM"] = ("aead", bits)
        ENC[f"{cipher}_{bits}_CCM_8"] = ("aead", bits)
MACS = {"MD5": "MD5", "SHA": "SHA1", "SHA256": "SHA256", "SHA384": "SHA384", "SM3": "SM3",
        "SHA512": "SHA512", "OMAC": "OMAC", "IMIT": "IMIT", "L": "AEAD", "S": "AEAD"}


def split_cipher(rest):
    """`AES_128_GCM_SHA256` -> (enc, mac)."""
    for enc in sorted(ENC, key=len, reverse=True):
        if rest == enc:
            return enc, None
        if rest.startswith(enc + "_") and rest[len(enc) + 1:] in MACS:
            return enc, MACS[rest[len(enc) + 1:]]
    raise ValueError(rest)


def classify(name):
    """-> protocol, kx, au, enc, mode, bits, mac, export"""
    base = name[4:] if name.startswith("OLD_") else name
    base = base[4:]  # TLS_
    if name in ("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_FALLBACK_SCSV"):
        return "scsv", "-", "-", "-", "-", 0, "-", False
    if name in ("TLS_SHA256_SHA256", "TLS_SHA384_SHA384"):
        return "tls13", "any", "any", "NULL", "none", 0, base.split("_")[0], False
    if "_WITH_" not in base:
        enc, mac = split_cipher(base)
        if mode_of(enc) == "aead":
            mac = "AEAD"
        return "tls13", "any", "any", enc, ENC[enc][0], ENC[enc][1], mac, False
    kxau, rest = base.split("_WITH_", 1)
    kx, au = KXAU[kxau]
    export = "EXPORT" in kxau
    if kxau == "NULL":
        return "tls", kx, au, "NULL", "none", 0, "NULL", False
    enc, mac = split_cipher(rest)
    mode, bits = ENC[enc]
    if mode == "aead" or mac is None:
        mac = "AEAD"
    return "tls", kx, au, enc, mode, bits, mac, export


def mode_of(enc):
    return ENC[enc][0]


def openssl_names():
    try:
        out = subprocess.run(
            ["openssl", "ciphers", "-V", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
            capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    names = {}
    for line in out.splitlines():
        m = re.match(r"\s*0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)\s+- (\S+)", line)
        if m:
            names[int(m.group(1) + m.group(2), 16)] = (m.group(3), m.group(4))
    return names


def main():
    rows = [(int(c, 16), n, "iana") for c, n in (l.split() for l in IANA.strip().splitlines())]
    rows += [(c, n, "iana") for c, n in more()]
    rows += [(c, n, "legacy") for c, n in LEGACY]
    rows.sort()
    ossl = openssl_names()
    w = sys.stdout.write
    w("# The TLS cipher-suite registry of Vigie. Generated by refresh-tls-ciphers.py (read it for\n")
    w("# the sources: the IANA TLS Cipher Suites registry, a few legacy codes, SSL 2.0 kinds).\n")
    w("# code,name,openssl,protocol,kx,au,enc,mode,bits,mac,export,source\n")
    for code, name, source in rows:
        protocol, kx, au, enc, mode, bits, mac, export = classify(name)
        std, oname = ossl.get(code, (None, ""))
        if std is not None and std != name and not name.startswith("OLD_"):
            print(f"openssl calls {code:04X} {std}, IANA {name}", file=sys.stderr)
        if oname == name:
            oname = ""
        w(f"0x{code:04X},{name},{oname},{protocol},{kx},{au},{enc},{mode},{bits},{mac},"
          f"{'yes' if export else 'no'},{source}\n")
    for code, name, oname, kx, au, enc, mode, bits, mac, export in SSL2:
        w(f"0x{code:06X},{name},{oname},ssl2,{kx},{au},{enc},{mode},{bits},{mac},"
          f"{'yes' if export else 'no'},ssl2\n")


if __name__ == "__main__":
    main()
