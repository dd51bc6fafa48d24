from tests.access.conftest import make_end_user, set_rule, todos  # noqa: F401
from tests.datastore.conftest import (  # noqa: F401
    membership_a,
    membership_b,
    project_a,
    project_b,
)
