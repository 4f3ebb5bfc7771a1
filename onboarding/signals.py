def sync_roles_after_migrate(sender, app_config=None, using="default", **kwargs):
    """Models added by later migrations get their permissions into the role groups."""
    if app_config is None or app_config.label != "onboarding":
        return
    from django.contrib.auth.models import Group, Permission

    from .roles import sync_roles

    sync_roles(Group, Permission)
