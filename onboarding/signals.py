from .roles import DOMAIN_APPS, sync_roles


def sync_roles_after_migrate(sender, app_config=None, using="default", **kwargs):
    """Models added by later migrations get their permissions into the role groups.

    Permissions are created per app as post_migrate reaches it, so the groups are synced
    after each domain app's turn (the last one sees every permission)."""
    if app_config is None or app_config.label not in DOMAIN_APPS:
        return
    from django.contrib.auth.models import Group, Permission

    sync_roles(Group, Permission)
