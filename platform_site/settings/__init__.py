"""Settings split by environment: base, local (dev), test and production."""
