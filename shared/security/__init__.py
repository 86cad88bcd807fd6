"""Security primitives: JWTs, password hashing, secret encryption, opaque tokens."""
