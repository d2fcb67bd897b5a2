from rest_framework.routers import SimpleRouter

from aftercare.api.views import InboundMessageViewSet, ScheduledMessageViewSet, SideEffectReportViewSet

router = SimpleRouter()
router.register("messages", ScheduledMessageViewSet, basename="message")
router.register("side-effect-reports", SideEffectReportViewSet, basename="side-effect-report")
router.register("inbox", InboundMessageViewSet, basename="inbox")

urlpatterns = router.urls
