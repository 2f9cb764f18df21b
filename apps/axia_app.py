"The axia chart app: `streamlit run apps/axia_app.py`, or `axia chart`."
from axia.app import main

main()
