"""Page numbers the admin takes from the address bar: a malformed or out-of-range page is
page 1 (paginated inlines) or 404 (the sidebar search), never a server error."""

from django.contrib import admin
from django.core.paginator import InvalidPage
from django.http import Http404
from unfold.forms import PaginationInlineFormSet

from .params import int_param


class SafePaginationInlineFormSet(PaginationInlineFormSet):
    """Unfold's paginated inline formset, reading its page number with `int_param`: "²" passes
    `str.isnumeric` but not `int()`."""

    def get_page_num(self) -> int:
        key = self.get_pagination_key()
        for source in (self.request.GET, self.request.POST):
            page = int_param(source.get(key))
            if page:
                return page
        return 1


def admin_search(request):
    """The admin's sidebar search (`/admin/search/?s=…&page=…`) with any page that is not a
    page of the results answered 404."""
    try:
        return admin.site.admin_view(admin.site.search)(request)
    except InvalidPage as error:
        raise Http404(str(error)) from error
