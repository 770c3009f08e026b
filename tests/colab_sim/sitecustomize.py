# In Colab, google.colab is imported when the runtime starts; the simulated runtime does the same.
import google.colab  # noqa: F401
