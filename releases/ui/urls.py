from django.urls import path

from releases.ui import reference_materials, specifications, views

urlpatterns = [
    path("lots/", views.lot_list, name="lot-list"),
    path("releases/", views.release_history_page, name="release-history"),
    path("lots/<str:lot_number>/", views.lot_detail, name="lot-detail"),
    path("lots/<str:lot_number>/actions/<slug:key>/", views.lot_action, name="lot-action"),
    path("lots/<str:lot_number>/history/", views.lot_history, name="lot-history"),
    path(
        "lots/<str:lot_number>/certificates/v<int:version>.<str:kind>",
        views.certificate_file,
        name="lot-certificate",
    ),
    path("investigations/", views.investigation_list, name="investigation-list"),
    path("investigations/<str:number>/", views.investigation_detail, name="investigation-detail"),
    path(
        "investigations/<str:number>/actions/<slug:key>/",
        views.investigation_action,
        name="investigation-action",
    ),
    path(
        "investigations/<str:number>/attachments/<int:pk>/",
        views.investigation_attachment,
        name="investigation-attachment-file",
    ),
    path("trends/", views.trend_list, name="trend-list"),
    path("trends/<str:product_code>/<str:test_code>/", views.trend_detail, name="trend-detail"),
    path(
        "trends/<str:product_code>/<str:test_code>/baseline/",
        views.trend_baseline_sign,
        name="trend-baseline-sign",
    ),
    path("specifications/", specifications.specification_list, name="specification-list"),
    path(
        "specifications/<str:product_code>/compare/",
        specifications.specification_compare_page,
        name="specification-compare",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/",
        specifications.specification_detail,
        name="specification-detail",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/impact/",
        specifications.specification_impact_page,
        name="specification-impact",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/lines/",
        specifications.specification_line_add_view,
        name="specification-line-add",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/lines/<int:line_id>/",
        specifications.specification_line_change_view,
        name="specification-line-change",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/lines/<int:line_id>/remove/",
        specifications.specification_line_remove_view,
        name="specification-line-remove",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/new-draft/",
        specifications.specification_new_draft_view,
        name="specification-new-draft",
    ),
    path(
        "specifications/<str:product_code>/v<int:version>/approve/",
        specifications.specification_approve_view,
        name="specification-approve",
    ),
    path(
        "reference-materials/",
        reference_materials.reference_material_list_page,
        name="reference-material-list",
    ),
    path(
        "reference-materials/<int:material_id>/",
        reference_materials.reference_material_detail,
        name="reference-material-detail",
    ),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/<int:pk>/", views.notification_open, name="notification-open"),
    path("notifications/read-all/", views.notification_read, name="notification-read-all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
]
