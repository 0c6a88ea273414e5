"""The operators' dashboard (pt-BR pages under /painel/): thin views over the apps' services and selectors."""
