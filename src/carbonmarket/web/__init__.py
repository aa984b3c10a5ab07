"""The public portal: Jinja2 pages, our own small page scripts and stylesheet, no third-party code."""
