from django.urls import path

from aftercare.sms_webhook import twilio_inbound_sms

urlpatterns = [
    path("sms/twilio/inbound/", twilio_inbound_sms, name="twilio-inbound-sms"),
]
