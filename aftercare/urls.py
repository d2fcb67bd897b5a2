from django.urls import path

from aftercare.sms_webhook import twilio_inbound_sms
from aftercare.views import aftercare_page, unsubscribe

urlpatterns = [
    # Short: the address goes into two-segment texts.
    path("c/<str:token>/", aftercare_page, name="aftercare-page"),
    path("u/<str:token>/", unsubscribe, name="aftercare-unsubscribe"),
    path("sms/twilio/inbound/", twilio_inbound_sms, name="twilio-inbound-sms"),
]
