"""REST resources for integrators and operators: clients, charges, dispatches (read-only).
Campaigns and templates are not here: billing/apis_campaigns.py and billing/apis_templates.py serve them.

Plain CRUD, so ViewSets (the convention's exception to one-APIView-per-operation); writes still go through
`cobranca.resources.services`, and the LGPD operations through `cobranca.privacy`.
"""
