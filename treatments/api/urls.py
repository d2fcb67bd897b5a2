from django.urls import path
from rest_framework.routers import SimpleRouter

from treatments.api import views

router = SimpleRouter()
router.register("locations", views.LocationViewSet, basename="location")
router.register("rooms", views.RoomViewSet, basename="room")
router.register("practitioners", views.PractitionerViewSet, basename="practitioner")
router.register("protocols", views.ProtocolViewSet, basename="protocol")
router.register("courses", views.CourseViewSet, basename="course")
router.register("sessions", views.SessionViewSet, basename="session")
router.register("products", views.ProductViewSet, basename="product")
router.register("lots", views.ProductLotViewSet, basename="lot")
router.register("medical-clearances", views.MedicalClearanceViewSet, basename="medical-clearance")

urlpatterns = [
    *router.urls,
    path("availability/", views.AvailabilityView.as_view(), name="availability"),
]
