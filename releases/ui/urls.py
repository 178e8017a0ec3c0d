from django.urls import path

from releases.ui import views

urlpatterns = [
    path("lots/", views.lot_list, name="lot-list"),
    path("lots/<str:lot_number>/", views.lot_detail, name="lot-detail"),
    path("investigations/", views.investigation_list, name="investigation-list"),
]
