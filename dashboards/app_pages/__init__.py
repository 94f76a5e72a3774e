"""The dashboard pages, one module per page (run by ``st.navigation`` as ``st.Page`` files)."""
