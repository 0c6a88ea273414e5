"""Operators' dashboard pages, one module per page like the URLs (cobranca/dashboard/urls.py).

Thin: parse the input with a form, call one service or selector of an app, render. Business rules live in the
apps (billing.dispatch.selectors.campaign_validate, billing.templating.template_preview,
billing.dispatch.export, …) so the API, the admin and these pages cannot drift apart.
"""
