from django.apps import AppConfig


class CompatConfig(AppConfig):
    """Supabase's wire protocols (GoTrue, PostgREST, Realtime, Storage) over the platform's
    own end users, records, channels and buckets, so ``@supabase/supabase-js`` works unchanged."""

    name = "compat"
    verbose_name = "Supabase-compatible API"
