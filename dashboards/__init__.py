"""OrderLens Streamlit dashboard (entry point: ``dashboards/streamlit_app.py``)."""
