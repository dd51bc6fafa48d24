"""Argon2id at OWASP's recommended floor: 19 MiB of memory, 2 passes, 1 lane.

Django's hasher of the same name checks older hashes; ``must_update`` notices other parameters
(or another algorithm, through ``PASSWORD_HASHERS`` order) and the hash is redone at login.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
