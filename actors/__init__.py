"""Stoa's actors: the embeddable runtime (`actors.runtime`) and the spaces built on it (`actors.space`)."""
