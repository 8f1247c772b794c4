//! Test keys generated with openssl for these tests only (never used anywhere else).
#![allow(dead_code)]

pub(crate) const RSA2: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCpfk1VVz1useNy\n\
T8WCB9sIF/IUl1Gm7oEgKbx69TgoDgLblUmLo07jBtHp09miGVG+BZzbf+Gp4YV6\n\
7Bb67+GONfGH4gjgYgq1b3Ok8hDxfBm9F2mqZh0aSaq0FQNwvwR4Bspd5CKh/Usa\n\
2SjLAg4lnJywdkuQIkamDYMvjHRwhq6yh8ap7K5yPj574vMGhu/EwgUBlVbN5kQN\n\
yczXRgEvOsgKkJno1i4SxiSFL0z/dROrZlBdtA9c6/KasQCNwRenu1zC49nM0eW5\n\
kmCezFThH92OdiI1PqfqiF7eZsxXHcw4EvI4XrK6p8B+AmAfpuKnA6qEppz6SxdJ\n\
yXnH4GGfAgMBAAECggEAQcGL3BOL9FGURYl4PTGyAqpTkzR/i41VUDaQ9n0DS9rf\n\
tfPtg/yYAtDnCFnVwaMkCN4hlDDBSkiBogZNBg6hiawY59hEDFVNBUXXbkMxWpaE\n\
X81hA6g5GzVAQjwyyP96itxLj3COFR1xEVn1jwjdly7yxS0ntKPvl8V/QyexFuQu\n\
ly85EhtdDhzGuke+XMgtjjGNDymCX8yogXQtxaTZ5nVoQSgIbD17CPYoivzy9JUA\n\
rss8TYnMJqfoD4E4KGObKGKPlYPiQWFvVuHsgjmDdHZfoTZaFIC8SV29EBexJOr8\n\
vgv1kSBtl8XhaUChU70xloJBBHUDCT4eR+X83AUJUQKBgQDswV5s53fkp1WR5+PA\n\
7J7RvY/unQ3XWiZ68fb6JLM3HCIuuJBmk6YmfGffY/PO68YlLq1sJcQMi4+Gyeye\n\
aqrGvA2M96QCMee9HR7FTBlBK0Q9jQprl1mZumODsC4qdhXcjpUciD9uu/xGW1oi\n\
2ygUQ1KdlakdMmAVK8K0qzEVrwKBgQC3RUgjT2XHgdzXDp40AQBk98trjRCd/gLj\n\
0x23XjeXn2Jf6dKiVjC/LKK2JhNTAgxtHg2Ak5nyjWrVDHdcmSTuJHQp/4A5LXYy\n\
LFMcfz96K0UbrX0jouffKVekoBhKHVxlMWAyUYrgfptvl5lRGqUVd4X7T7L7NGai\n\
vz4f7Q5fEQKBgCpBhQno8jQkTZiCC9tWIC6NJ9BNxbenBnExGISi4j22zr8J//Pe\n\
7Gu4Do4Hd+95k171isxfnTMkAZTsG0hW/24DCGQdmu8tWxAcz24lW+iOwVo+/xoe\n\
5EYUx0gsvMClXNeFt0VlZ/TqpmckTN0lwmyDa45mtM1aPV3p9pFqcJNPAoGBAJaW\n\
rPGmmcDW6fkjn8anVAWivlj/LjpDr2g33mD/X7qMUi7xWAvfumo7aO82VgaM1l0K\n\
ppmRrptoq/GnLqS9iWTMO08PC/LvcgFD/n6Z6DSgPUbCxOJ1RwVNWSCCE7NCcNsN\n\
OTffXLeeEGYfMPE9bYw4C7U2BaD3q6XqckeVZ4uhAoGBANkgR5cfF6+f7omiyKtv\n\
v7j/i7jCzTfoNkl0CWKgwq4HwJOUV3uKnDlY9QRfZ0HbywPOcssQbYYt1zKi4RzM\n\
XwbIQhq7dvGZgKaN2rgC+TL20/QMKfXre6o4BU2X7jZQFwlLgwadehZypwn1dAMI\n\
wujCJFq2sBm+MQh42tgYE5ot\n\
-----END PRIVATE KEY-----\n\
";

pub(crate) const RSA2_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqX5NVVc9brHjck/Fggfb\n\
CBfyFJdRpu6BICm8evU4KA4C25VJi6NO4wbR6dPZohlRvgWc23/hqeGFeuwW+u/h\n\
jjXxh+II4GIKtW9zpPIQ8XwZvRdpqmYdGkmqtBUDcL8EeAbKXeQiof1LGtkoywIO\n\
JZycsHZLkCJGpg2DL4x0cIausofGqeyucj4+e+LzBobvxMIFAZVWzeZEDcnM10YB\n\
LzrICpCZ6NYuEsYkhS9M/3UTq2ZQXbQPXOvymrEAjcEXp7tcwuPZzNHluZJgnsxU\n\
4R/djnYiNT6n6ohe3mbMVx3MOBLyOF6yuqfAfgJgH6bipwOqhKac+ksXScl5x+Bh\n\
nwIDAQAB\n\
-----END PUBLIC KEY-----\n\
";

pub(crate) const EC256: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+aChm4Vtl9KFzART\n\
uQh57aWpyDbFOQg0cGuKnwXHo2ShRANCAAQjHsIiPrwhFHIMJ7rjq1JFsH6en0vS\n\
/4+ZrB+W5iQCBdNsnqoRpc4k0UyPB2O97ER2pfzRwaSsccq/EXTDudJI\n\
-----END PRIVATE KEY-----\n\
";

pub(crate) const EC256_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIx7CIj68IRRyDCe646tSRbB+np9L\n\
0v+PmawfluYkAgXTbJ6qEaXOJNFMjwdjvexEdqX80cGkrHHKvxF0w7nSSA==\n\
-----END PUBLIC KEY-----\n\
";

pub(crate) const EC384: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCIQsotR8pFxMjmV+8i\n\
8J5DFsBDRDIEcQO9CrJgMgAcguqH+K8wKM02uAPBrAQ3rkehZANiAAT6xNA2l6Qx\n\
jKJ785PaQEQ98PncSPYd0KUlAEvhh8UiKyNSRaEzlxyJrJ2aaHdKyDQ2a7GDDbrx\n\
FB3O+rq8iPGzcZr4BLdyzHDg8HUUyO7OAC22uq4Krq3e7rcA+UCGAhI=\n\
-----END PRIVATE KEY-----\n\
";

pub(crate) const EC384_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE+sTQNpekMYyie/OT2kBEPfD53Ej2HdCl\n\
JQBL4YfFIisjUkWhM5cciaydmmh3Ssg0Nmuxgw268RQdzvq6vIjxs3Ga+AS3csxw\n\
4PB1FMjuzgAttrquCq6t3u63APlAhgIS\n\
-----END PUBLIC KEY-----\n\
";

pub(crate) const ED: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MC4CAQAwBQYDK2VwBCIEIKz9xL66Y+sYSqdkOyk9I5hApaL91i64oB5hT5VIDUS0\n\
-----END PRIVATE KEY-----\n\
";

pub(crate) const ED_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MCowBQYDK2VwAyEAeCop6WW4oueGMcLxCArDlXjLttrVq9rzZKcEQWJ3n88=\n\
-----END PUBLIC KEY-----\n\
";

pub(crate) const RSA1024: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBAKpr5NL08a9cSUv2\n\
K6cIVRvlZ4NH/JesaQUhTixyXZ3fZTa7zXeFYu0dUh+Q95vLwXVR27M2oC9mtTnw\n\
/Cf8nIbHb9TqAjQ+XfkXGrJmf6Z/IqYssp4b+B+lRBm4If0UaFbihzf73i+QtwXf\n\
tbyT9p+avq03txrq5WiqPNnXKFhNAgMBAAECgYAXO1oYP/fqdeQwDMDqpkIj6WPx\n\
C5Etg/1VC7NCb9y/NsLvcS6TSoWv2T1mvDZk8KPQwHX4ukuf6ppt6aIWOWOE6xw7\n\
2CjKceJWXR5uu98FpvV9BIKip0dNzrJA1mS323qOLsgcAweYY9iIVx+M6o0PDFVT\n\
EL9tVt9GSuqtGAl+AQJBANH8EdNmcSCQJkX7FV/coR7G2QHNm7HVx7ilspsc5f1G\n\
+CewaQuZfYSHLR534z6QXfyhYEppK5kY3pTaNmBW3cECQQDPxF5ihl5Y+2CO2e3+\n\
vDGBR1e9uwaZwmB2nhKBquDeyJucdPV5l6NzJR/ip+1U4mZBb1O+pAK9HxaoTFhP\n\
t3WNAkEAyxe7vfVE0TPacLDp+W+Qvg2g8aeFQLj9lE9esbt/jjpH5UswLjHkPnvn\n\
XaKivW4wGRmT4iRaMJbnIJz1HrSlgQJBAKvZMXRuzZTt/zTI/viHMq9KkkFFc7U0\n\
OFOEdaw46Zx783Iar3uuOCyiVVhFK6HdTVTsPyldQUKqdzQnSZhOF3UCQQC2NPAG\n\
GYNwyt5CIjUAjFoJL3T/1F9+HBy7s723WqMuGjCnlEAt9Dj7Jqnr3Ph8MsIuYxYM\n\
ggBNWcgjK6g1Xlyq\n\
-----END PRIVATE KEY-----\n\
";

pub(crate) const RSA1024_PUB: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCqa+TS9PGvXElL9iunCFUb5WeD\n\
R/yXrGkFIU4scl2d32U2u813hWLtHVIfkPeby8F1UduzNqAvZrU58Pwn/JyGx2/U\n\
6gI0Pl35FxqyZn+mfyKmLLKeG/gfpUQZuCH9FGhW4oc3+94vkLcF37W8k/afmr6t\n\
N7ca6uVoqjzZ1yhYTQIDAQAB\n\
-----END PUBLIC KEY-----\n\
";
