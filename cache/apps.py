from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "cache"
