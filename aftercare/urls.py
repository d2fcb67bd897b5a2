from django.urls import path

from aftercare.views import aftercare_page, unsubscribe

urlpatterns = [
    # Short: the address goes into two-segment texts.
    path("c/<str:token>/", aftercare_page, name="aftercare-page"),
    path("u/<str:token>/", unsubscribe, name="aftercare-unsubscribe"),
]
