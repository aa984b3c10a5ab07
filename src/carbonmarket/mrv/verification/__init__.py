"""Third-party verification: bodies under qualification management, assignments, nonconformities,
verified emissions (the compliance figure), the published evaluation and streamlined verification."""
