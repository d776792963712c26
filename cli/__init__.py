"""The ``rnn-apps`` command line (installed as ``rnn_apps.cli``)."""
