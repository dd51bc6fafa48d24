"""The project console's table editor, storage browser and functions page, named
``studio:project-table``, ``studio:project-storage``, ``studio:project-functions`` (and pages
below them). They sit under the Studio's ``/studio/o/<org>/p/<project>/`` and are wrapped by
the Studio admin site's ``admin_view`` (login, CSRF, the site's permission), like its own
pages; platform_site/urls.py includes this before the admin site's catch-all."""

from django.contrib import admin
from django.urls import path

from studio import functions_page, storage_browser, table_editor

app_name = "studio"

PROJECT = "o/<str:org>/p/<uuid:project>/"
TABLE = "table/<str:collection>/"
ROW = TABLE + "rows/<str:row>/"
BUCKET = "storage/<str:bucket>/"
FUNCTION = "functions/<str:function>/"

pages = [
    ("table/", table_editor.index, "project-table"),
    (TABLE, table_editor.grid, "project-table-collection"),
    (TABLE + "schema/", table_editor.schema, "project-table-schema"),
    (ROW, table_editor.record, "project-table-row"),
    (ROW + "cell/", table_editor.cell, "project-table-cell"),
    (ROW + "delete/", table_editor.delete, "project-table-delete"),
    ("storage/", storage_browser.index, "project-storage"),
    (BUCKET, storage_browser.bucket, "project-storage-bucket"),
    (BUCKET + "download/", storage_browser.download, "project-storage-download"),
    (BUCKET + "sign/", storage_browser.sign, "project-storage-sign"),
    (BUCKET + "delete/", storage_browser.delete, "project-storage-delete"),
    ("functions/", functions_page.index, "project-functions"),
    (FUNCTION, functions_page.detail, "project-function"),
]

urlpatterns = [path(PROJECT + route, admin.site.admin_view(v), name=n) for route, v, n in pages]
