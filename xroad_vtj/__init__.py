"""xroad-vtj: audited VTJ person queries through an X-Road security server."""

__version__ = "0.1.0"
