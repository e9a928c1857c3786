"""Residents' reports (群众吹哨): what a resident reported from the public page, and the rules that
let an anonymous page in without an account — a proof of work and a per-address limit."""
