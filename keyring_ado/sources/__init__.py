"""Credential sources, one per module, each behind the :class:`~keyring_ado.sources.base.Source` contract."""
