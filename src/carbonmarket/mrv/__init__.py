"""The National Carbon Trading Market Management Platform: roster, monthly data, accounting,
the validation model, review, verification and parameter tracing."""
