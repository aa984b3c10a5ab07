"""MRV monthly records: monitoring plans, versioned monthly data, import, the annual report."""
