"""Bulk imports (our CSV template, CMS NPPES, payer networks) through the one listing write path."""
