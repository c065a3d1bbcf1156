from orders.views.actions import *  # noqa: F403
from orders.views.browse import *  # noqa: F403
from orders.views.browse import PDF_EXPORT_LIMIT, TABS  # noqa: F401
from orders.views.bulk import *  # noqa: F403
